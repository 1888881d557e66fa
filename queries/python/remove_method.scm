; SWE-smith: remove a method from a class body.
(class_definition
  body: (block [(function_definition) (decorated_definition)] @site))
