; SWE-smith: swap the operands of a non-commutative operator.
(binary_operator operator: ["+" "-" "/" "//" "%" "**" "<<" ">>"]) @site
(comparison_operator operators: ["<" "<=" ">" ">=" "in" "not in"]) @site
