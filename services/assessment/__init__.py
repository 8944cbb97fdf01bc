"""Assessment: test instruments, pre- and post-test submissions, scoring."""
