// Command hookrun runs its arguments as a Hook the way the agent runs a custom action, and
// prints the result; tests kill it to stand for an agent killed mid-command.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dspyfleet/dspyfleet/agent/service"
)

func main() {
	res, err := service.Hook{Command: os.Args[1:]}.Run(context.Background())
	fmt.Println(res.Detail)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
