; mutmut: drop a `not`.
(not_operator) @site
