// The coding assistant: answers stream in over the `answerStream` subscription; the
// conversation is kept (its id in the URL and in this browser) and reloaded from the API.
import { graphql, explain, NOT_IMPLEMENTED } from "../api.js";
import { h, clear, setTitle, statusLine } from "../dom.js";
import { field } from "../forms.js";
import { codeUrl, guessSystem, systemLabel } from "../codes.js";
import { refreshViewer } from "../session.js";

const ANSWER_FIELDS = `id conversationId text intent citations { source locator excerpt } codes { system code title billable }`;
const STREAM = `subscription AnswerStream($input: AskInput!) {
  answerStream(input: $input) { text done answer { ${ANSWER_FIELDS} } }
}`;
const ASK = `mutation Ask($input: AskInput!) { ask(input: $input) { ${ANSWER_FIELDS} } }`;
const CONVERSATION = `query Conversation($id: ID!) { conversation(id: $id) { id channel messages { role text at } } }`;
const STORAGE_KEY = "medcode:conversation";
const EXAMPLES = ["What is the ICD-10-CM code for achalasia?", "Can 93000 and 93010 be billed together?",
  "What is the MUE for J9035?", "When do I use modifier 59?"];

export async function render(main, { conversationId }) {
  setTitle("Coding assistant");
  let markdown = null;
  try {
    markdown = await import("../markdown.js");
  } catch {
    markdown = null; // the vendored libraries are missing: answers show as plain text
  }
  let conversation = conversationId || localStorage.getItem(STORAGE_KEY);
  let subscription = null;
  const chat = h("div", { class: "chat", id: "chat", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const status = h("div", { id: "assistant-status" });
  const question = h("textarea", { name: "question", rows: "2", required: true, placeholder: "Ask a coding question" });
  const form = h("form", { class: "ask-form panel" }, field("Your question", {}, { control: question }),
    h("button", { type: "submit", id: "ask-button" }, "Ask"));
  const newChat = h("button", { type: "button", class: "link", onclick: () => {
    localStorage.removeItem(STORAGE_KEY);
    conversation = null;
    clear(chat);
    history.replaceState(history.state, "", "/assistant");
    question.focus();
  } }, "Start a new conversation");

  main.append(h("h1", {}, "Coding assistant"),
    h("p", { class: "muted" }, "Answers cite the code sets and CMS files they come from. ", newChat),
    h("p", { class: "small" }, "Try: ", EXAMPLES.map((example, i) => [i ? " · " : "", h("button", {
      type: "button", class: "link", onclick: () => { question.value = example; question.focus(); },
    }, example)])),
    chat, status, form);

  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  const draw = (element, text) => {
    if (markdown) markdown.renderMarkdown(element, text);
    else element.textContent = text;
  };
  const bubble = (role, text) => {
    const body = h("div", { class: "text" });
    const message = h("div", { class: `message ${role === "user" ? "user" : "assistant"}` },
      h("div", { class: "who" }, role === "user" ? "You" : "Assistant"), body);
    if (role === "user") body.textContent = text; else draw(body, text);
    chat.append(message);
    return { message, body };
  };

  if (conversation) {
    try {
      const data = await graphql(CONVERSATION, { id: conversation });
      if (data.conversation) {
        for (const message of data.conversation.messages) bubble(message.role, message.text);
        history.replaceState(history.state, "", `/assistant/${encodeURIComponent(conversation)}`);
      } else {
        conversation = null;
        localStorage.removeItem(STORAGE_KEY);
      }
    } catch (error) {
      if (error.code === NOT_IMPLEMENTED) status.append(statusLine(explain(error, "The assistant"), "warn"));
      conversation = null;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text || subscription) return;
    clear(status);
    question.value = "";
    bubble("user", text);
    const reply = bubble("assistant", "");
    reply.message.setAttribute("aria-busy", "true");
    form.querySelector("button").disabled = true;
    const input = { question: text, conversationId: conversation };
    let streamed = "";
    let answer = null;
    try {
      subscription = (await import("../ws.js")).subscribe(STREAM, { input }, (data) => {
        const chunk = data.answerStream;
        // A chunk carries the next piece of text; a server that sends the text so far
        // instead is read as such.
        streamed = chunk.text.startsWith(streamed) && streamed ? chunk.text : streamed + chunk.text;
        if (chunk.done && chunk.answer) { answer = chunk.answer; streamed = chunk.answer.text; }
        draw(reply.body, streamed);
      });
      await subscription.done;
    } catch (error) {
      if (error.code === NOT_IMPLEMENTED) {
        // No streaming here: the plain mutation may still answer.
        try {
          answer = (await graphql(ASK, { input })).ask;
          draw(reply.body, answer.text);
        } catch (askError) {
          reply.message.remove();
          status.append(statusLine(explain(askError, "The assistant"), askError.code === NOT_IMPLEMENTED ? "warn" : "error"));
        }
      } else {
        reply.message.remove();
        status.append(statusLine(explain(error, "The assistant"), "error"));
      }
    } finally {
      subscription = null;
      reply.message.removeAttribute("aria-busy");
      form.querySelector("button").disabled = false;
    }
    if (answer) {
      reply.message.dataset.done = "true";
      reply.message.append(citations(answer));
      conversation = answer.conversationId;
      localStorage.setItem(STORAGE_KEY, conversation);
      history.replaceState(history.state, "", `/assistant/${encodeURIComponent(conversation)}`);
      refreshViewer();
    }
    question.focus();
  });
  question.focus();
  return () => subscription?.cancel();
}

function citations(answer) {
  const items = [];
  for (const code of answer.codes || []) {
    items.push(h("li", {}, h("a", { href: codeUrl(code.system, code.code) }, `${systemLabel(code.system)} ${code.code}`), ` ${code.title}`));
  }
  for (const citation of answer.citations || []) {
    const system = guessSystem(citation.locator);
    items.push(h("li", {}, citation.source, ": ",
      system && /ICD|HCPCS|CPT|NCCI|MUE/i.test(citation.source) ? h("a", { href: codeUrl(system, citation.locator) }, citation.locator) : citation.locator,
      citation.excerpt ? h("span", { class: "muted" }, ` “${citation.excerpt}”`) : null));
  }
  if (!items.length) return document.createDocumentFragment();
  return h("div", {}, h("div", { class: "who" }, "Sources"), h("ul", { class: "citations" }, items));
}
