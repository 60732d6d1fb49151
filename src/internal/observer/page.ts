export const page = "<!doctype html><title>x</title>"
