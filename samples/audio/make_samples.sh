#!/bin/sh
# Rebuilds the demo voice memos in this folder (needs: apt-get install espeak-ng sox).
# The texts are ours; the recordings are CC0 (see ATTRIBUTION.md).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

memo() {  # memo NAME VOICE TEXT
    espeak-ng -v "$2" -s 150 -w "$tmp/$1.wav" "$3"
    sox "$tmp/$1.wav" -r 16000 -C 0 "$1.ogg" pad 0.5 0.5
}

memo household_budget_meeting en-us "Voice memo, Tuesday evening. We had the household budget meeting today. \
Rent and groceries are still the biggest costs, so we will cook at home more often and cancel two streaming \
subscriptions. We want to save two hundred euros every month for the summer holiday."

memo great_wall_trip en-gb "Notes from our trip to China. This morning we took the bus from Beijing to the \
Great Wall at Mutianyu. We climbed the steep stone steps to the highest watchtower and looked out over green \
mountains. In the afternoon we rode the toboggan back down, which the children loved."

memo fixing_the_bicycle en-us "Reminder for the weekend: fix the bicycle. The rear tyre has a slow puncture, \
so I need a new inner tube and a patch kit. The chain is rusty and squeaks, so clean it and add some oil. \
Also check the brakes before riding to work on Monday."
