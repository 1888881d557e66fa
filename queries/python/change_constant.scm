; SWE-smith: change an integer constant by one.
(integer) @site
