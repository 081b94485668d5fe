"""The acceptance suite of a server shared by many tenants: what one user may not reach of
another's, what an open plan may not do, which tokens are refused, and that no secret leaks.

Every case is a real request over HTTPS (WSS for streams) to a real ``qruntime serve``."""
