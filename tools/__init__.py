"""The executors behind the two commands of the README: `make book` (:mod:`tools.execute_chapters`) and `make test`
(:mod:`tools.nbval_outputs`, a pytest plugin).  Repository tooling, not part of the installed `lib`."""
