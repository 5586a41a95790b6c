{
  "targets": [
    {
      "target_name": "comboseg",
      "sources": [
        "src/addon.cc",
        "src/tensor.cc",
        "src/dispatch.cc",
        "src/conv_onednn.cc",
        "src/conv_binding.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "include_dirs": [
        "/usr/include/torch/csrc/api/include"
      ],
      "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "defines": ["_GLIBCXX_USE_CXX11_ABI=1", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "libraries": ["-ltorch", "-ltorch_cpu", "-lc10", "-Wl,--no-as-needed"]
    }
  ]
}
