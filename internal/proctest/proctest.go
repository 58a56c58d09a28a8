// Package proctest runs a test again in a fresh process of the test
// binary, for measurements that a process's history would spoil (the
// first use of a lazily compiled decoder, say), and reads what a process
// has mapped and holds.
package proctest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InChild reports whether this process is the fresh one Run started with
// the environment variable env.
func InChild(env string) bool { return os.Getenv(env) != "" }

// Run runs the test named test (anchored) in a fresh process of the test
// binary with env set, where the test finds InChild true and calls
// Report; Run decodes the JSON that Report printed into result.
func Run(t testing.TB, test, env string, result any) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the fresh process of %s: %v\n%s", test, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, reportPrefix); ok {
			if err := json.Unmarshal([]byte(rest), result); err != nil {
				t.Fatalf("the fresh process of %s: %v", test, err)
			}
			return
		}
	}
	t.Fatalf("the fresh process of %s reported nothing:\n%s", test, out)
}

const reportPrefix = "PROCTEST "

// Report prints v for Run, in the fresh process.
func Report(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	fmt.Println(reportPrefix + string(b))
}

// ExecMappings counts the process's anonymous executable memory mappings,
// where wazero puts the code it compiles (a Go program has none of its
// own); -1 where /proc/self/maps is not.
func ExecMappings() int {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return -1
	}
	n := 0
	for line := range strings.SplitSeq(string(maps), "\n") {
		if fields := strings.Fields(line); len(fields) == 5 && strings.Contains(fields[1], "x") {
			n++
		}
	}
	return n
}

// ResidentKB returns the process's resident set, in kB, or -1.
func ResidentKB() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(rest, &kb)
			return kb
		}
	}
	return -1
}
