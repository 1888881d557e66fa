; Inverse of a common repair: swallow an exception (`except E: pass`).
(except_clause (block)) @site
