; SWE-smith: change an operator within its family (`+`/`-`, `*`/`/`, `<`/`<=`, ...).
(binary_operator operator: ["+" "-" "*" "/" "//" "%" "**" "<<" ">>" "&" "|" "^"]) @site
(comparison_operator operators: ["<" "<=" ">" ">="]) @site
