package runner

import "github.com/awf-dev/awf/internal/sandbox"

func cliProxyNetExtra() sandbox.NetExtra { return sandbox.NetExtra{} }
