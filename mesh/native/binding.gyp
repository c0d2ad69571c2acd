{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["original-dst.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
