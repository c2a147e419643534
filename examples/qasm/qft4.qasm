// 4-qubit quantum Fourier transform of a prepared input state, split over two nodes.
// place: q[0]=alice,q[1]=bob,q[2]=alice,q[3]=bob
OPENQASM 2.0;
include "qelib1.inc";
qreg q[4];
creg c[4];
// input: |1011> with a little superposition
x q[0];
x q[2];
x q[3];
ry(0.4) q[1];
barrier q;
h q[0];
cu1(pi/2) q[1],q[0];
cu1(pi/4) q[2],q[0];
cu1(pi/8) q[3],q[0];
h q[1];
cu1(pi/2) q[2],q[1];
cu1(pi/4) q[3],q[1];
h q[2];
cu1(pi/2) q[3],q[2];
h q[3];
swap q[0],q[3];
swap q[1],q[2];
measure q -> c;
