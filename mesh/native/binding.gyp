{
  "targets": [
    {
      "target_name": "mesh",
      "sources": ["addon.c", "original-dst.c", "dataplane.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
