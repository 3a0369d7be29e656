"""Pages: self-contained HTML views of networks and of training runs."""
