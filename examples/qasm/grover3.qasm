// Grover search on 3 qubits for the marked item |101>, two iterations, one qubit per node.
// place: q[0]=alice,q[1]=bob,q[2]=carol
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
gate ccz a, b, c { h c; ccx a, b, c; h c; }
gate oracle a, b, c { x b; ccz a, b, c; x b; }
gate diffuse a, b, c { h a; h b; h c; x a; x b; x c; ccz a, b, c; x a; x b; x c; h a; h b; h c; }
h q[0];
h q[1];
h q[2];
oracle q[0], q[1], q[2];
diffuse q[0], q[1], q[2];
oracle q[0], q[1], q[2];
diffuse q[0], q[1], q[2];
measure q -> c;
