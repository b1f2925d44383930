module github.com/toteorg/tote/bench/river

go 1.26.8
