OPENQASM 2.0;
include "qelib1.inc";
// A 5-qubit GHZ state: ideally only 00000 and 11111 are measured.
qreg q[5];
creg meas[5];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
measure q -> meas;
