; SWE-smith: remove an `if` that has no `else`/`elif`.
(if_statement !alternative) @site
