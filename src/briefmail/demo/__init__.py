"""`briefmail demo`: the whole product on embedded defaults, with sample data and traffic."""
