; SWE-smith: remove a `for` or `while` loop.
[(for_statement) (while_statement)] @site
