; SWE-smith: break an operator chain (`a + b + c`) by dropping one operand.
(binary_operator left: (binary_operator)) @site
