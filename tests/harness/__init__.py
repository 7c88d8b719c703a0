# A package, so pytest imports these as harness.test_mosquitto etc. and a
# test_mosquitto.py elsewhere in tests/ cannot clash with them.
