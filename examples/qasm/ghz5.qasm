// 5-qubit GHZ state (OpenQASM 3), one to two qubits per node over four nodes.
// place: q[0]=alice,q[1]=bob,q[2]=carol,q[3]=dave,q[4]=alice
OPENQASM 3.0;
include "stdgates.inc";
qubit[5] q;
bit[5] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
c = measure q;
