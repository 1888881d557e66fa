; Inverse of a common repair: catch the wrong exception type.
(except_clause value: (_)) @site
