; Inverse of a common repair: return the wrong value (another local, or a flipped literal).
(return_statement (_)) @site
