package kerneltest

import "errors"

var errNotLinux = errors.New("kerneltest: network namespaces need linux")
