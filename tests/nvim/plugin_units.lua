-- The socratic plugin's pure Lua functions (run with `nvim --headless --clean -l`; PLUGIN is
-- the plugin folder). Prints `OK units N` after N checks, or `FAIL` lines and exits 1.

vim.opt.runtimepath:prepend(assert(os.getenv('PLUGIN'), 'PLUGIN'))
local config = require('socratic.config')
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

if #failures > 0 then
  for _, f in ipairs(failures) do io.stdout:write('FAIL ' .. f .. '\n') end
  os.exit(1)
end
io.stdout:write(('OK units %d\n'):format(checks))
os.exit(0)
