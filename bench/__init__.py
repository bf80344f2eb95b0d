"""Scale benchmarks of the cost data path (issue 2, section 8): `make bench`, results in bench/RESULTS.md."""
