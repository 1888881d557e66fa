; mutmut: `return x` -> `return None`.
(return_statement (_)) @site
