; mutmut: `and` <-> `or`.
(boolean_operator) @site
