; Inverse of a common repair: remove a None guard (`if x is None: return/raise ...`).
(if_statement
  condition: (comparison_operator (_) (none))
  consequence: (block . [(return_statement) (raise_statement)])
  !alternative) @site
