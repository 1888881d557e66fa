; SWE-smith: shuffle the statements of a block (at least two statements).
(block . (_) . (_)) @site
