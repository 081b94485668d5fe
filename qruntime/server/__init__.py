"""The HTTP service: IBM's ``/api`` and ``/runtime`` APIs over HTTPS and WebSockets."""
