package main

// costUsage is the usage of the cost command group.
const costUsage = `Usage: fleetctl cost <report|budgets|budget|prices|recs> [flags] [args]

Commands:
  report            Cost over a time range by pool, node, model, program or capacity type.
  budgets           Budgets with their standing this period, and recent budget alerts.
  budget set        Create or replace a budget.
  budget delete     Delete a budget.
  prices            Show the price table.
  prices set        Replace the price table from a JSON file.
  recs              Savings recommendations with evidence and monthly savings.
  recs dismiss      Dismiss a recommendation.
  recs done         Mark a recommendation done.

Run "fleetctl cost <command> -h" for a command's flags.
`

// costReportUsage is the usage of "cost report".
const costReportUsage = `Usage: fleetctl cost report [--by pool|node|model|program|capacity_type] [--since DURATION] [--pool POOL]

Show host and token cost over the range from the ledger (whole UTC hours), one line per group,
most cost first, with the total. Model and program lines hold token cost only. A cost shown with
"?" is a lower bound: part of it could not be priced (see the warnings). With -o json, the
GetReportResponse.

Flags:
  --by GROUP            pool, node, model, program or capacity_type (default pool)
  --since DURATION      how far back, e.g. 24h, 7d, 30d (default 7d)
  --pool POOL           only this pool

` + globalFlagsText

// costBudgetsUsage is the usage of "cost budgets".
const costBudgetsUsage = `Usage: fleetctl cost budgets

List the budgets with their spend this period, run rate, forecast and fired thresholds, then
the latest budget alerts, newest first. With -o json, the ListBudgetsResponse.

` + globalFlagsText

// costBudgetSetUsage is the usage of "cost budget set".
const costBudgetSetUsage = `Usage: fleetctl cost budget set NAME --period daily|weekly|monthly --limit USD [flags]

Create or replace the budget NAME. Without --pool or --program it covers the whole fleet.
Pool and fleet budgets count host and token cost; program budgets count token cost.

Flags:
  --period PERIOD       daily, weekly (Monday to Monday) or monthly; required
  --limit USD           the limit in USD; required
  --pool POOL           the pool the budget covers
  --program PROGRAM     the DSPy program the budget covers
  --thresholds LIST     alert thresholds as shares of the limit, each in (0, 10], e.g. 0.5,0.8,1
                        (the default); each fires once per period
  --hard                refuse new requests at the door once exhausted
  --fallback-pool POOL  with --hard, route to this pool instead of refusing
  --time-zone ZONE      IANA zone of the period boundaries (default UTC)
  --update              change only the fields whose flags are given (an update mask); the
                        others keep their stored values, and --period and --limit are optional
  --etag ETAG           set it only if the stored budget still has this etag (ETAG column of
                        "fleetctl cost budgets"); when someone changed it since, nothing changes
                        and the error says how to retry

` + globalFlagsText

// costBudgetDeleteUsage is the usage of "cost budget delete".
const costBudgetDeleteUsage = `Usage: fleetctl cost budget delete NAME [--etag ETAG]

Delete the budget NAME.

Flags:
  --etag ETAG  delete it only if it still has this etag (ETAG column of "fleetctl cost
               budgets"); when someone changed it since, nothing changes and the error says
               how to retry

` + globalFlagsText

// costPricesUsage is the usage of "cost prices".
const costPricesUsage = `Usage: fleetctl cost prices

Show the price table: instance types (hourly on-demand, spot and reserved prices, size) and
models (USD per million input, output and cached input tokens, cheaper alternative). With
-o json, the GetPricesResponse; its "prices" object is what "cost prices set" reads.

Nodes name their instance type in their agent config (instance_type) and their purchase option
in the label purchase=on-demand|spot|reserved; an agent's hourly_price wins over the table.

` + globalFlagsText

// costPricesSetUsage is the usage of "cost prices set".
const costPricesSetUsage = `Usage: fleetctl cost prices set FILE [--etag ETAG]

Replace the whole price table with the one in FILE (JSON, the API's Prices message; "-" reads
standard input), for example:

  {"instances": [{"instanceType": "m7i.xlarge", "onDemandHourly": 0.2016, "spotHourly": 0.08,
                  "reservedHourly": 0.127, "vcpus": 4, "memoryGib": 16}],
   "models": [{"model": "openai/gpt-4o", "inputPerMtok": 2.5, "outputPerMtok": 10,
               "cachedInputPerMtok": 1.25, "alternative": "openai/gpt-4o-mini"},
              {"model": "openai/gpt-4o-mini", "inputPerMtok": 0.15, "outputPerMtok": 0.6}]}

The table is set only if the stored one still has the etag of --etag, or of FILE's "etag"
(the "prices" object of "cost prices -o json" carries it): when someone changed the prices
since, nothing changes and the error says how to retry.

Flags:
  --etag ETAG  the etag of the table the change was made on ("Etag:" of "fleetctl cost prices")

` + globalFlagsText

// costRecsUsage is the usage of "cost recs".
const costRecsUsage = `Usage: fleetctl cost recs [--all]
       fleetctl cost recs dismiss|done|reopen [--etag ETAG] ID

List the savings recommendations from the last week, most savings first, each with its evidence
and estimated monthly savings; dismiss one, or mark it done. With -o json, the
ListRecommendationsResponse.

Flags:
  --all                 also list dismissed and done recommendations
  --etag ETAG           change the state only if it is still the one read (-o json shows the
                        etag); another operator's change fails with ABORTED

` + globalFlagsText
