package runstate

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestOwner(t *testing.T) {
	self := OwnerStamp(os.Getpid())
	if pid, alive := Owner(self); !alive || pid != os.Getpid() {
		t.Errorf("Owner(%q) = %d %v, want self alive", self, pid, alive)
	}
	if _, alive := Owner(strconv.Itoa(os.Getpid())); !alive {
		t.Error("bare pid of a live process not alive")
	}
	if _, alive := Owner(strconv.Itoa(os.Getpid()) + " 1"); alive {
		t.Error("a pid with another start time counts as alive (recycled pid)")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, alive := Owner(strconv.Itoa(cmd.Process.Pid) + " 5"); alive {
		t.Error("an exited process counts as alive")
	}
	for _, bad := range []string{"", "x", "-1", "0"} {
		if _, alive := Owner(bad); alive {
			t.Errorf("Owner(%q) alive", bad)
		}
	}
}
