--- The server's side of the conversation: command names and how their results are read.
---
--- In: the results of `workspace/executeCommand` (their shapes are the protocol schema,
--- `editor-extensions/protocol/socratic-protocol.schema.json`, generated from the server's
--- types). Out: the messages the plugin shows and the values it keeps. Pure.
---
--- `PROPERTIES` names, per schema type, every property the plugin reads (here and in
--- `socratic.tasks`) or writes (`socratic.record`); `tests/nvim/plugin_units.lua` checks them against the schema and runs the
--- functions below on the schema's example objects, so a property renamed on the server fails
--- that test.

local M = {}

--- The server's commands.
M.ACCEPT = 'socratic.accept'
M.REJECT = 'socratic.reject'
M.SHOW_PATCH = 'socratic.showPatch'
M.GENERATE = 'socratic.generate'
M.ROUND = 'socratic.round'
M.START_ATTEMPT = 'socratic.startAttempt'
M.RUN_ATTEMPT_TESTS = 'socratic.attemptRunTests'
M.FINISH_ATTEMPT = 'socratic.finishAttempt'
M.ABANDON_ATTEMPT = 'socratic.abandonAttempt'
M.TASKS = 'socratic.tasks'
M.EVOLVE = 'socratic.evolve'
--- The notification of an event during an attempt.
M.RECORD_EVENT = 'socratic/recordEvent'

--- Schema type → the properties the plugin reads or writes.
M.PROPERTIES = {
  StatusChanged = { 'id', 'status' },
  TaskPatch = { 'id', 'patch' },
  Generated = { 'generated', 'added', 'file' },
  RoundSummary = { 'number', 'step', 'candidates', 'valid', 'kept' },
  AttemptStarted = { 'attemptId', 'id', 'root', 'file', 'range', 'problemStatement', 'failToPass' },
  TextRange = { 'start', 'end' },
  TextPosition = { 'line', 'character' },
  AttemptTests = { 'attemptId', 'outcome', 'detail', 'passed', 'failed', 'tests' },
  AttemptTest = { 'id', 'status', 'message', 'uri', 'line' },
  AttemptFinished = { 'id', 'attemptId', 'trace', 'label', 'reason' },
  AttemptAbandoned = { 'id', 'attemptId' },
  TaskList = { 'root', 'attempt', 'tasks' },
  TaskRow = { 'id', 'file', 'uri', 'line', 'column', 'status', 'operator', 'skill', 'statement' },
  EditorEvent = { 'kind', 'command', 'exitCode' },
  EvolveSummary = { 'run', 'rounds', 'heldOutRate', 'randomWeights' },
}

--- A value of a result, nil for JSON null or a missing property.
local function get(result, key)
  local v = type(result) == 'table' and result[key] or nil
  if v == vim.NIL then return nil end
  return v
end
M.get = get

--- Text for a value the message needs (`?` when missing: a result of another shape).
local function show(v)
  if v == nil then return '?' end
  return tostring(v)
end

--- `socratic.accept` / `socratic.reject`: `accepted t-…`.
function M.status_message(result)
  return ('%s %s'):format(show(get(result, 'status')), show(get(result, 'id')))
end

--- `socratic.generate`: `12 candidates, 9 new in tallyho/ledger.py`.
function M.generated_message(result)
  local file = get(result, 'file')
  return ('%s candidates, %s new%s'):format(show(get(result, 'generated')), show(get(result, 'added')),
    file and (' in ' .. file) or '')
end

--- `socratic.round`: `round 3: 40 candidates, 17 valid, 2 kept` (and the step it stopped
--- before, when it did not finish).
function M.round_message(result)
  local kept = get(result, 'kept')
  local step = get(result, 'step')
  return ('round %s: %s candidates, %s valid, %s kept%s'):format(show(get(result, 'number')),
    show(get(result, 'candidates')), show(get(result, 'valid')), type(kept) == 'table' and #kept or '?',
    (step and step ~= 'done') and (' (stopped before ' .. step .. ')') or '')
end

--- A resolve rate in [0, 1] as `40%` (`-` when missing).
local function percent(rate)
  if type(rate) ~= 'number' then return '-' end
  return ('%d%%'):format(math.floor(rate * 100 + 0.5))
end

--- `socratic.evolve`: `evolve run 1: 3 rounds, held-out resolve rate 40%` (and that a random
--- model's rates are no signal).
function M.evolve_message(result)
  local rounds = get(result, 'rounds')
  return ('evolve run %s: %s rounds, held-out resolve rate %s%s'):format(show(get(result, 'run')),
    type(rounds) == 'table' and #rounds or '?', percent(get(result, 'heldOutRate')),
    get(result, 'randomWeights') and ' (random-weights model: not a signal)' or '')
end

--- The status line's part for the latest held-out resolve rate: `held-out 40%`, `held-out 40%?`
--- on a random-weights model, `` before any evolve run.
function M.held_out_status(result)
  local rate = get(result, 'heldOutRate')
  if type(rate) ~= 'number' then return '' end
  return 'held-out ' .. percent(rate) .. (get(result, 'randomWeights') and '?' or '')
end

--- `socratic.startAttempt`: the task the attempt is at.
function M.attempt_task(result)
  return get(result, 'id')
end

--- `socratic.startAttempt`: what the plugin keeps and opens: `{ attempt, task, root, file (a
--- path), line (1-based), end_line, statement (lines), tests }`; nil for another shape.
function M.attempt_started(result)
  local file, range = get(result, 'file'), get(result, 'range')
  if type(file) ~= 'string' or type(range) ~= 'table' then return nil end
  local start, stop = get(range, 'start') or {}, get(range, 'end') or {}
  local tests = get(result, 'failToPass')
  return {
    attempt = get(result, 'attemptId'),
    task = get(result, 'id'),
    root = get(result, 'root'),
    file = vim.startswith(file, 'file://') and vim.uri_to_fname(file) or file,
    line = (get(start, 'line') or 0) + 1,
    end_line = (get(stop, 'line') or get(start, 'line') or 0) + 1,
    statement = vim.split(get(result, 'problemStatement') or '', '\n', { plain = true }),
    tests = type(tests) == 'table' and tests or {},
  }
end

--- The problem statement buffer's lines: a title, the statement, the failing tests.
function M.problem_lines(started)
  local lines = { ('# socratic attempt %s (task %s)'):format(show(started.attempt), show(started.task)), '' }
  vim.list_extend(lines, started.statement)
  vim.list_extend(lines, { '', 'Failing tests (:SocraticAttemptTest runs them):' })
  for _, t in ipairs(started.tests) do table.insert(lines, '- ' .. t) end
  return lines
end

--- `socratic.attemptRunTests`: quickfix items for the tests that did not pass, at their `def`
--- lines.
function M.test_items(result)
  local items = {}
  local tests = get(result, 'tests')
  for _, t in ipairs(type(tests) == 'table' and tests or {}) do
    if get(t, 'status') ~= 'passed' then
      local uri, line = get(t, 'uri'), get(t, 'line')
      local message = vim.split(get(t, 'message') or '', '\n', { plain = true })[1] or ''
      table.insert(items, {
        filename = uri and vim.uri_to_fname(uri) or nil,
        lnum = (line or 0) + 1,
        col = 1,
        type = 'E',
        text = ('%s %s%s'):format(show(get(t, 'id')), show(get(t, 'status')), message ~= '' and (': ' .. message) or ''),
        user_data = { test = get(t, 'id') },
      })
    end
  end
  return items
end

--- `socratic.attemptRunTests`: `tests passed: 2/2` / `tests failed: 0/2 passed` / `tests broken: why`.
function M.attempt_tests_message(result)
  local outcome = show(get(result, 'outcome'))
  local passed, failed = get(result, 'passed'), get(result, 'failed')
  local total = (type(passed) == 'number' and type(failed) == 'number') and (passed + failed) or '?'
  local detail = get(result, 'detail')
  return ('tests %s: %s/%s passed%s'):format(outcome, show(passed), total, detail and (' (' .. detail .. ')') or '')
end

--- `socratic.finishAttempt`: `attempt at t-… graded resolved (why); trace tr-…`.
function M.attempt_finished_message(result)
  return ('attempt at %s graded %s (%s); trace %s'):format(show(get(result, 'id')), show(get(result, 'label')),
    show(get(result, 'reason')), show(get(result, 'trace')))
end

--- `socratic.showPatch`: the task id and the patch's lines.
function M.patch(result)
  return get(result, 'id'), vim.split(get(result, 'patch') or '', '\n', { plain = true })
end

--- `socratic.tasks`: `{ root = string|nil, attempt = string|nil, tasks = rows }`.
function M.task_list(result)
  local tasks = get(result, 'tasks')
  return { root = get(result, 'root'), attempt = get(result, 'attempt'), tasks = type(tasks) == 'table' and tasks or {} }
end

return M
