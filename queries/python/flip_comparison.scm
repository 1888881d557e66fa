; mutmut: flip a comparison (`<`/`>=`, `==`/`!=`, `is`/`is not`, `in`/`not in`).
(comparison_operator) @site
