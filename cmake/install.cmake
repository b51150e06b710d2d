# Installation and the CMake package (find_package(gridtree CONFIG)).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS gridtree_index gridtree_engine gridtree_generate gridtree_flags EXPORT gridtreeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY index/include/ engine/include/ generate/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET gridtree_rpc)
  install(TARGETS gridtree_rpc EXPORT gridtreeTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY rpc/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  # The generated schema header sits next to the rpc headers' include root.
  install(FILES ${CMAKE_BINARY_DIR}/rpc/gen/gridtree.capnp.h rpc/gridtree.capnp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
install(EXPORT gridtreeTargets NAMESPACE gridtree:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gridtree)
configure_package_config_file(cmake/gridtreeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/gridtreeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gridtree)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/gridtreeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gridtreeConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/gridtreeConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gridtree)
if(TARGET gridtree)
  install(TARGETS gridtree RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
