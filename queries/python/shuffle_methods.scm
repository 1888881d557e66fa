; SWE-smith: shuffle the methods of a class (at least two methods).
(class_definition body: (block)) @site
