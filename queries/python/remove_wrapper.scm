; SWE-smith: remove a `try` or `with` wrapper, keeping its body.
(try_statement body: (block)) @site
(with_statement body: (block)) @site
