; SWE-smith: invert if/else — an `if` with an `else` (the rewrite swaps the else body with the body of the branch before it).
(if_statement
  consequence: (block)
  alternative: (else_clause body: (block))) @site
