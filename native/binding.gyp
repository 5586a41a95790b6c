# The comboseg addon. Build it with `node scripts/build-native.mjs`, not node-gyp directly: that
# script finds libtorch (COMBOSEG_LIBTORCH, else Debian's /usr) and passes what it found as
# variables: napi_include_dir (node-addon-api's headers, as the package resolves them), torch_dnnl
# (1: link Debian's shared libdnnl and build the bf16 convolutions on its API), torch_gloo (1: build c10d's Gloo process group for distributed training, with libgloo-dev's headers),
# torch_root (the folder, reported by buildInfo), torch_include_dirs, torch_link (-L,
# rpath, and the libraries inside --no-as-needed ... --as-needed so that every library's kernels
# register even though the addon calls none of their symbols directly), torch_cxx_std (c++17, or
# what TorchConfig.cmake asks for) and torch_cxx11_abi. A build against another libtorch uses a
# folder native/build-<version>-<cpu|cuda>/ (an installed package: a cache folder, `comboseg setup`)
# whose binding.gyp includes this one.
{
  "targets": [
    {
      "target_name": "comboseg",
      "sources": [
        "src/addon.cc",
        "src/tensor.cc",
        "src/dispatch.cc",
        "src/device.cc",
        "src/engine_info.cc",
        "src/conv_aten.cc",
        "src/conv_onednn.cc",
        "src/conv_dnnl.cc",
        "src/layers_dnnl.cc",
        "src/layers_binding.cc",
        "src/dist.cc",
        "src/conv_binding.cc"
      ],
      "include_dirs": [
        "<(napi_include_dir)",
        "<@(torch_include_dirs)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++20", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=<(torch_cxx_std)", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "defines": [
        "_GLIBCXX_USE_CXX11_ABI=<(torch_cxx11_abi)",
        "COMBOSEG_LIBTORCH_DIR=\"<(torch_root)\"",
        "COMBOSEG_DNNL=<(torch_dnnl)",
        "COMBOSEG_C10D_GLOO=<(torch_gloo)",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "libraries": ["<@(torch_link)"]
    }
  ]
}
