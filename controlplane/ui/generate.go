package ui

//go:generate sh vendor-uplot.sh
