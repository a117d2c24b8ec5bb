// placeholder-free: filled in below
