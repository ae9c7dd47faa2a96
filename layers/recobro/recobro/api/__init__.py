"""HTTP-facing helpers shared by the API handlers: body decoding and error shaping."""
