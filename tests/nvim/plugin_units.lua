-- The socratic plugin's pure Lua functions (run with `nvim --headless --clean -l`; PLUGIN is
-- the plugin folder, SCHEMA the protocol schema file). Prints `OK units N` after N checks, or
-- `FAIL` lines and exits 1.

vim.opt.runtimepath:prepend(assert(os.getenv('PLUGIN'), 'PLUGIN'))
local config = require('socratic.config')
local protocol = require('socratic.protocol')
local record = require('socratic.record')
local tasks = require('socratic.tasks')

local failures, checks = {}, 0
local function eq(got, want, what)
  checks = checks + 1
  if not vim.deep_equal(got, want) then
    table.insert(failures, ('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want)))
  end
end

-- options and the server command line
local o = config.merge({ binary = '/opt/socratic', home = '/h' })
eq(config.server_cmd(o), { '/opt/socratic', '--home', '/h', 'lsp' }, 'server cmd with home')
eq(config.server_cmd(config.merge({ binary = '/opt/socratic', standalone = true })), { '/opt/socratic', 'lsp', '--standalone' }, 'standalone')
eq(config.server_cmd(config.merge({ cmd = { 'x', 'y' } })), { 'x', 'y' }, 'cmd wins')
eq(config.merge({}).filetypes, { 'python' }, 'default filetypes')
eq(pcall(config.merge, { bniary = 'x' }), false, 'unknown option refused')
eq(pcall(config.merge, { standalone = 'yes' }), false, 'wrong type refused')
eq(config.find_binary('/nonexistent/socratic'), nil, 'missing binary')
eq(config.find_binary('sh') ~= nil, true, 'a binary on PATH')

-- shell commands of Ex command lines
eq(record.shell_command('!python3 -m pytest -q'), 'python3 -m pytest -q', ':!')
eq(record.shell_command(':! ls  '), 'ls', ':! with spaces')
eq(record.shell_command('r !date'), 'date', ':r !')
eq(record.shell_command('w !wc -l'), 'wc -l', ':w !')
eq(record.shell_command('!'), nil, 'bare !')
eq(record.shell_command('echo "hi"'), nil, 'no shell command')
eq(record.shell_command(nil), nil, 'nil')
vim.o.makeprg = 'make'
eq(record.shell_command('make test'), 'make test', ':make')
eq(record.term_command('term:///tmp/r//1234:python3 -m pytest'), 'python3 -m pytest', 'term name')
eq(record.term_command('/tmp/file.py'), nil, 'not a terminal')
eq(record.is_shell('/bin/bash', '/bin/bash'), true, 'the shell')
eq(record.is_shell('zsh', '/bin/bash'), true, 'another shell')
eq(record.is_shell("sh -c 'exit 5'", '/bin/bash'), false, 'sh -c runs a command')
eq(record.is_shell('python3 -m pytest', '/bin/bash'), false, 'a program')

-- shell integration sequences
eq(record.parse_osc('\27]133;A'), { mark = 'A' }, '133 A')
eq(record.parse_osc('\27]133;D;7'), { mark = 'D', code = 7 }, '133 D with code')
eq(record.parse_osc('\27]133;D'), { mark = 'D' }, '133 D without code')
eq(record.parse_osc('\27]633;E;echo a\\x3bb;nonce'), { mark = 'E', command = 'echo a;b' }, '633 E')
eq(record.parse_osc('\27]0;title'), nil, 'a title')
eq(record.parse_osc('\27]133;Z'), nil, 'unknown mark')

-- the task under the cursor and quickfix items
local function d(col, end_col, id) return { lnum = 4, end_lnum = 4, col = col, end_col = end_col, source = 'socratic', user_data = { lsp = { data = id } } } end
local line = { d(2, 8, 'a'), d(10, 20, 'b'), d(12, 14, 'c') }
eq(tasks.id_of(tasks.pick(line, 5)), 'a', 'inside the first')
eq(tasks.id_of(tasks.pick(line, 13)), 'c', 'the innermost')
eq(tasks.id_of(tasks.pick(line, 9)), 'b', 'the next one')
eq(tasks.id_of(tasks.pick(line, 30)), 'a', 'past the end: the first')
eq(tasks.pick({}, 0), nil, 'none')
local rows = {
  { id = 't-1', file = 'pkg/a.py', line = 3, column = 5, status = 'valid', operator = 'op', skill = vim.NIL, statement = 'S1' },
  { id = 't-2', file = 'pkg/b.py', line = 9, column = 1, status = 'rejected', operator = 'op', skill = 'guard', statement = 'S2' },
}
local items = tasks.qf_items(rows, '/repo')
eq(#items, 1, 'rejected left out')
eq({ items[1].filename, items[1].lnum, items[1].col, items[1].type, items[1].text },
  { '/repo/pkg/a.py', 3, 5, 'I', '[valid] op t-1: S1' }, 'an item')
eq(tasks.qf_items(rows, '/repo', true)[2].text, '[rejected] guard t-2: S2', 'all, with the skill')

-- the protocol: every property the plugin reads or writes is one the schema defines, each
-- command's result is the type its decoder is written for, and the decoders read the schema's
-- example objects (what the server's types serialize to) without a gap
local schema = vim.json.decode(table.concat(vim.fn.readfile(assert(os.getenv('SCHEMA'), 'SCHEMA')), '\n'))
local defs = schema.definitions
for name, props in pairs(protocol.PROPERTIES) do
  local def = defs[name] or {}
  eq(defs[name] ~= nil, true, 'schema type ' .. name)
  for _, p in ipairs(props) do
    eq(def.properties ~= nil and def.properties[p] ~= nil, true, name .. '.' .. p .. ' is a property in the schema')
  end
end
local commands = schema.properties.commands.properties
local function result_type(command)
  local c = commands[command]
  return c and c.properties.result['$ref'] and c.properties.result['$ref']:match('[^/]+$') or nil
end
eq({ result_type(protocol.ACCEPT), result_type(protocol.REJECT), result_type(protocol.SHOW_PATCH),
  result_type(protocol.GENERATE), result_type(protocol.ROUND), result_type(protocol.START_ATTEMPT),
  result_type(protocol.RUN_ATTEMPT_TESTS), result_type(protocol.FINISH_ATTEMPT), result_type(protocol.ABANDON_ATTEMPT),
  result_type(protocol.TASKS), result_type(protocol.EVOLVE) },
  { 'StatusChanged', 'StatusChanged', 'TaskPatch', 'Generated', 'RoundSummary', 'AttemptStarted', 'AttemptTests',
    'AttemptFinished', 'AttemptAbandoned', 'TaskList', 'EvolveSummary' }, 'the result type of each command')
eq(schema.properties.notifications.properties[protocol.RECORD_EVENT].properties.params['$ref'],
  '#/definitions/EditorEvent', 'the recordEvent params')
eq(defs.EditorEvent.properties.kind['$ref'], '#/definitions/EditorEventKind', 'the event kind')
eq(vim.json.encode(defs.EditorEventKind or {}):find('"command"', 1, true) ~= nil, true, 'a command event kind')

local function example(name) return defs[name].examples[1] end
local round = example('RoundSummary')
eq(protocol.round_message(round), ('round %s: %s candidates, %s valid, %s kept'):format(tostring(round.number),
  tostring(round.candidates), tostring(round.valid), tostring(#(round.kept or {}))), 'the round message')
eq(protocol.round_message(vim.tbl_extend('force', round, { step = 'validate' })):match('%(stopped before validate%)$') ~= nil,
  true, 'an unfinished round says where it stopped')
eq(protocol.round_message({ generated = 3, added = 1 }), 'round ?: ? candidates, ? valid, ? kept', 'another shape shows ?')
local evolved = example('EvolveSummary')
eq(protocol.evolve_message(evolved), ('evolve run %s: %d rounds, held-out resolve rate %d%%'):format(tostring(evolved.run),
  #evolved.rounds, math.floor(evolved.heldOutRate * 100 + 0.5)), 'the evolve message')
eq(protocol.held_out_status(evolved), ('held-out %d%%'):format(math.floor(evolved.heldOutRate * 100 + 0.5)),
  'the status line part')
eq(protocol.held_out_status(vim.tbl_extend('force', evolved, { randomWeights = true })):sub(-1), '?',
  'a random model is marked')
eq(protocol.held_out_status(vim.tbl_extend('force', evolved, { heldOutRate = vim.NIL })), '', 'nothing before a rate')
eq(protocol.held_out_status(nil), '', 'nothing before a run')
local status = example('StatusChanged')
eq(protocol.status_message(status), status.status .. ' ' .. status.id, 'the status message')
local generated = example('Generated')
eq(protocol.generated_message(generated), ('%s candidates, %s new in %s'):format(tostring(generated.generated),
  tostring(generated.added), tostring(generated.file)), 'the generate message')
eq(protocol.attempt_task(example('AttemptStarted')), example('AttemptStarted').id, 'the attempt task')
local finished = example('AttemptFinished')
eq(protocol.attempt_finished_message(finished), ('attempt at %s graded %s (%s); trace %s'):format(tostring(finished.id),
  tostring(finished.label), tostring(finished.reason), tostring(finished.trace)), 'the finish message')
local started_ex = example('AttemptStarted')
local started = protocol.attempt_started(started_ex)
eq({ started.attempt, started.task, started.root, started.file, started.line, started.end_line, started.tests },
  { started_ex.attemptId, started_ex.id, started_ex.root, vim.uri_to_fname(started_ex.file),
    started_ex.range.start.line + 1, started_ex['range']['end'].line + 1, started_ex.failToPass }, 'the attempt started')
eq(protocol.problem_lines(started)[3], started_ex.problemStatement, 'the problem statement buffer')
eq(protocol.attempt_started({ id = 't' }), nil, 'another shape')
local ran = example('AttemptTests')
local test_items = protocol.test_items(ran)
eq({ #test_items, test_items[1].filename, test_items[1].lnum, test_items[1].text },
  { 1, vim.uri_to_fname(ran.tests[1].uri), ran.tests[1].line + 1,
    ran.tests[1].id .. ' failed: ' .. ran.tests[1].message }, 'a failing test as a quickfix item')
eq(protocol.attempt_tests_message(ran), 'tests failed: 0/1 passed', 'the tests message')
eq(#protocol.test_items(vim.tbl_extend('force', ran, { tests = { vim.tbl_extend('force', ran.tests[1], { status = 'passed' }) } })),
  0, 'passing tests are left out')
local patch_id, patch_lines = protocol.patch(example('TaskPatch'))
eq({ patch_id, patch_lines[1] }, { example('TaskPatch').id, vim.split(example('TaskPatch').patch, '\n')[1] }, 'the patch')
local list = protocol.task_list(example('TaskList'))
local row = example('TaskList').tasks[1]
eq({ list.root, list.attempt, #list.tasks }, { example('TaskList').root, nil, 1 }, 'the task list')
local item = tasks.qf_items(list.tasks, list.root)[1]
eq({ item.filename, item.lnum, item.col, item.text },
  { list.root .. '/' .. row.file, row.line, row.column, ('[%s] %s %s: %s'):format(row.status, row.skill, row.id, row.statement) },
  'a quickfix item from a schema row')
eq(tasks.qf_items(list.tasks, nil)[1].filename, vim.uri_to_fname(row.uri), 'the row URI without a root')

if #failures > 0 then
  for _, f in ipairs(failures) do io.stdout:write('FAIL ' .. f .. '\n') end
  os.exit(1)
end
io.stdout:write(('OK units %d\n'):format(checks))
os.exit(0)
