// comms-lab-reopen: a notebook reopened with its saved widgets is not marked modified before
// the student edits it.
//
// Why: the student wheel turns on the widget manager's `saveState` setting (commslab/wheels.py)
// so that a notebook reopened without a kernel still shows its controls. The manager
// (@jupyter-widgets/jupyterlab-manager 5.x, WidgetManager.register_model and clear_state) then
// calls setDirty(), `context.model.dirty = true`, for every widget it restores from the
// notebook's metadata: the tab shows "modified" although nothing changed.
//
// What: for each notebook, from the moment its file is loaded until its content first changes
// (a cell edited, added, removed or run: the model's contentChanged signal), a `dirty` flag
// raised without a content change is lowered again. After the first content change this
// plugin does nothing, so a real edit is always marked and never lost.
import { INotebookTracker } from '@jupyterlab/notebook';

function keepCleanUntilEdited(panel) {
  const context = panel.context;
  if (context.isReady) {
    return; // another view of a notebook already open: its state is not this plugin's
  }
  context.ready.then(() => {
    const model = context.model;
    if (!model) {
      return;
    }
    let edited = false;
    const lower = () => {
      if (!edited && !model.isDisposed && model.dirty) {
        model.dirty = false;
      }
    };
    const onState = (_, change) => {
      if (change.name === 'dirty' && change.newValue) {
        // Later, not now: a keystroke raises `dirty` in the same Yjs transaction as the text,
        // and contentChanged (a deep observer) is told after this handler, before the
        // microtask runs, so a real edit is never lowered.
        Promise.resolve().then(lower);
      }
    };
    const onContent = () => {
      edited = true;
      model.stateChanged.disconnect(onState);
      model.contentChanged.disconnect(onContent);
    };
    model.stateChanged.connect(onState);
    model.contentChanged.connect(onContent);
    lower(); // a widget restored while the file was loading
  });
}

const plugin = {
  id: 'comms-lab-reopen:plugin',
  description: 'A notebook reopened with its saved widgets is not marked modified before an edit.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, tracker) => {
    tracker.forEach(keepCleanUntilEdited);
    tracker.widgetAdded.connect((_, panel) => keepCleanUntilEdited(panel));
  }
};

export default plugin;
