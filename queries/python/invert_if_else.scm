; SWE-smith: invert if/else — an `if` with a plain `else` (the rewrite swaps the two bodies).
(if_statement
  consequence: (block)
  alternative: (else_clause body: (block))) @site
