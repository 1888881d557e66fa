; mutmut: `x += y` -> `x = y` (any augmented assignment).
(augmented_assignment) @site
